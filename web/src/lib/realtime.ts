// One Socket.IO connection for the page. The handshake carries the HttpOnly session cookie
// (same origin), so the page never handles a key. Events: see api/realtime.py. The page asks for
// batched lines; a batch that skips ahead (it was held back, or told to replay) is backfilled by the
// log store from GET …/logs?after_seq.
import { io, type Socket } from "socket.io-client";
import { useEffect, useState } from "react";

export type ConnectionState = "connecting" | "connected" | "disconnected";

export interface JobEvent {
  jobId: string;
  modelType: string;
  status?: string;
  progress?: number;
  objectiveValue?: number | null;
  durationMs?: number | null;
  error?: string | null;
  // optimization:status while the run waits in line (api/realtime.py `queued`)
  queued?: boolean;
  queuePosition?: number;
}

export const JOB_EVENTS = [
  "optimization:started",
  "optimization:status",
  "optimization:completed",
  "optimization:failed",
  "optimization:cancelled",
] as const;

export function connect(): Socket {
  return io({
    path: "/socket.io",
    withCredentials: true,
    // one optimization:logs event per job per stored group of lines instead of one event per line
    auth: { batch: true },
    autoConnect: false, // the workspace connects on mount and disconnects on unmount
    reconnectionDelay: 300,
    reconnectionDelayMax: 2000,
  });
}

export function useConnectionState(socket: Socket): ConnectionState {
  const [state, setState] = useState<ConnectionState>(socket.connected ? "connected" : "connecting");
  useEffect(() => {
    const up = () => setState("connected");
    const down = () => setState("disconnected");
    socket.on("connect", up);
    socket.on("disconnect", down);
    socket.on("connect_error", down);
    return () => {
      socket.off("connect", up);
      socket.off("disconnect", down);
      socket.off("connect_error", down);
    };
  }, [socket]);
  return state;
}
