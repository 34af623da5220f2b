import type { Socket } from "socket.io-client";
import { useConnectionState } from "../lib/realtime";
import { NotificationsBell } from "./NotificationsBell";
import { ProtectionsIndicator } from "./ProtectionsIndicator";

const LABELS = { connected: "Live", connecting: "Connecting…", disconnected: "Reconnecting…" };

export function Header({ me, socket, jobsTick }: { me: { name: string; role: string }; socket: Socket; jobsTick: number }) {
  const state = useConnectionState(socket);
  return (
    <header className="header">
      <h1>optbox sandbox</h1>
      <span className={`connection ${state}`} role="status" aria-label={`Connection: ${LABELS[state]}`} data-state={state}>
        <span className="dot" aria-hidden="true" /> {LABELS[state]}
      </span>
      <span className="spacer" />
      <ProtectionsIndicator />
      <a href="/docs" target="_blank" rel="noopener">API docs</a>
      <span className="me">
        {me.name} ({me.role})
      </span>
      <NotificationsBell jobsTick={jobsTick} />
    </header>
  );
}
