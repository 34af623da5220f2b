"""One router per resource; each route validates, calls one service function, returns a schema."""
