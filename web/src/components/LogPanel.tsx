// The live log: every line of every run since the page opened (bounded, virtualized), colour-coded
// by level, with filters. Auto-scroll follows the end until the user scrolls up, and resumes when
// they come back to the bottom (or press Resume).
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useMemo, useRef, useState } from "react";
import type { Socket } from "socket.io-client";
import { levelClass } from "../lib/format";
import type { LogStore, PanelLine } from "../lib/logStore";
import { useConnectionState } from "../lib/realtime";
import { MODEL_TYPES } from "../lib/types";

const ROW_HEIGHT = 20;
const LEVEL_RANK: Record<string, number> = { DEBUG: 0, INFO: 1, WARNING: 2, WARN: 2, ERROR: 3, CRITICAL: 4 };

/** Re-render at most once a frame however fast lines come. */
function useStoreVersion(store: LogStore): number {
  const [version, setVersion] = useState(store.version);
  useEffect(() => {
    let frame = 0;
    const unsubscribe = store.subscribe(() => {
      if (!frame) frame = requestAnimationFrame(() => {
        frame = 0;
        setVersion(store.version);
      });
    });
    return () => {
      unsubscribe();
      cancelAnimationFrame(frame);
    };
  }, [store]);
  return version;
}

export function filterLines(lines: PanelLine[], type: string, job: string, minLevel: string): PanelLine[] {
  if (!type && !job && !minLevel) return lines;
  const floor = minLevel ? LEVEL_RANK[minLevel] ?? 0 : 0;
  return lines.filter(
    (l) => (!type || l.modelType === type) && (!job || l.jobId === job) && (LEVEL_RANK[l.level.toUpperCase()] ?? 1) >= floor,
  );
}

export function LogPanel({ store, socket }: { store: LogStore; socket: Socket }) {
  const version = useStoreVersion(store);
  const connection = useConnectionState(socket);
  const [type, setType] = useState("");
  const [job, setJob] = useState("");
  const [minLevel, setMinLevel] = useState("");
  const [following, setFollowing] = useState(true);
  const scroller = useRef<HTMLDivElement>(null);

  const lines = useMemo(() => filterLines(store.lines, type, job, minLevel), [store, version, type, job, minLevel]);
  const count = lines.length;
  const jobIds = useMemo(() => store.jobIds(), [store, version]);

  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 20,
  });

  useEffect(() => {
    if (following && count > 0) virtualizer.scrollToIndex(count - 1, { align: "end" });
  }, [following, count, version, virtualizer]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < ROW_HEIGHT * 1.5;
    if (atBottom !== following) setFollowing(atBottom);
  };

  return (
    <section className="card logs" aria-labelledby="logs-title">
      <div className="logs-head">
        <h2 id="logs-title">Live log</h2>
        <span className={`connection small ${connection}`} data-testid="log-connection">
          <span className="dot" aria-hidden="true" /> {connection === "connected" ? "live" : "reconnecting — missed lines load when back"}
        </span>
        <span className="spacer" />
        <label htmlFor="log-type">Type</label>
        <select id="log-type" value={type} onChange={(e) => setType(e.target.value)}>
          <option value="">all</option>
          {MODEL_TYPES.map((t) => <option key={t}>{t}</option>)}
        </select>
        <label htmlFor="log-job">Job</label>
        <select id="log-job" value={job} onChange={(e) => setJob(e.target.value)}>
          <option value="">all</option>
          {jobIds.map((id) => <option key={id}>{id}</option>)}
        </select>
        <label htmlFor="log-level">Level</label>
        <select id="log-level" value={minLevel} onChange={(e) => setMinLevel(e.target.value)}>
          <option value="">all</option>
          <option value="INFO">info and up</option>
          <option value="WARNING">warnings and errors</option>
          <option value="ERROR">errors</option>
        </select>
        <button onClick={() => store.clear()}>Clear</button>
      </div>
      <div className="logs-state small">
        <span data-testid="line-count">{count} lines</span>
        {following ? (
          <span className="muted"> · following</span>
        ) : (
          <>
            <span className="muted"> · auto-scroll paused</span>
            <button className="link" onClick={() => setFollowing(true)}>Resume auto-scroll</button>
          </>
        )}
      </div>
      <div ref={scroller} className="log-scroll" role="log" aria-label="Live log" aria-live="off" tabIndex={0} onScroll={onScroll}>
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {virtualizer.getVirtualItems().map((item) => {
            const line = lines[item.index];
            return (
              <div
                key={line.key}
                className={`log-row ${levelClass(line.level)}`}
                data-seq={line.seq} data-job={line.jobId}
                style={{ transform: `translateY(${item.start}px)`, height: ROW_HEIGHT }}
                title={line.message}
              >
                <span className="seq">{line.seq}</span>
                <span className="job">{line.jobId}</span>
                <span className="lvl">{line.level}</span>
                <span className="msg">{line.message}</span>
              </div>
            );
          })}
        </div>
        {count === 0 && <p className="muted empty">No lines yet. Run a model to see its output here as it prints.</p>}
      </div>
    </section>
  );
}
