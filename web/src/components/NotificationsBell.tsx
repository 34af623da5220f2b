import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../lib/api";
import { formatTime } from "../lib/format";
import type { Notification } from "../lib/types";

export function NotificationsBell({ jobsTick }: { jobsTick: number }) {
  const [items, setItems] = useState<Notification[]>([]);
  const [unread, setUnread] = useState(0);
  const [open, setOpen] = useState(false);
  const panel = useRef<HTMLDivElement>(null);

  const load = useCallback(async () => {
    try {
      const body = await api.notifications();
      setItems(body.notifications);
      setUnread(body.unread);
    } catch {
      // shown again on the next tick; the bell is not worth an alert
    }
  }, []);
  useEffect(() => void load(), [load, jobsTick]);
  useEffect(() => {
    const timer = window.setInterval(load, 30_000);
    return () => window.clearInterval(timer);
  }, [load]);

  const markRead = async (ids?: number[]) => {
    await api.markRead(ids).catch(() => undefined);
    await load();
  };

  return (
    <div className="bell">
      <button
        aria-label={`Notifications: ${unread} unread`} aria-expanded={open} aria-haspopup="true"
        onClick={() => setOpen((o) => !o)}
        onKeyDown={(e) => e.key === "Escape" && setOpen(false)}
      >
        <svg aria-hidden="true" width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2">
          <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
          <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
        </svg>
        {unread > 0 && <span className="badge" data-testid="unread-count">{unread}</span>}
      </button>
      {open && (
        <div className="bell-panel" ref={panel} role="region" aria-label="Notifications" onKeyDown={(e) => e.key === "Escape" && setOpen(false)}>
          <div className="bell-head">
            <strong>Notifications</strong>
            <button onClick={() => markRead()} disabled={unread === 0}>Mark all read</button>
          </div>
          {items.length === 0 && <p className="muted">No notifications.</p>}
          <ul>
            {items.map((n) => (
              <li key={n.id} className={n.is_read ? "read" : "unread"}>
                <div className={`sev sev-${n.severity}`}>{n.title}</div>
                <div className="msg">{n.message}</div>
                <div className="muted small">
                  {formatTime(n.created_at)}
                  {!n.is_read && <button className="link" onClick={() => markRead([n.id])}>Mark read</button>}
                </div>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
