// The sandbox page: sign-in check, then the workspace. One socket and one log store for the page.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api } from "./lib/api";
import { LogStore, type LogBatch } from "./lib/logStore";
import { connect, JOB_EVENTS, type JobEvent } from "./lib/realtime";
import type { Model } from "./lib/types";
import { Header } from "./components/Header";
import { UploadCard } from "./components/UploadCard";
import { ControlPanel } from "./components/ControlPanel";
import { LogPanel } from "./components/LogPanel";
import { History } from "./components/History";
import { ModelsTable } from "./components/ModelsTable";
import { Charts } from "./components/Charts";
import { RunDetail } from "./components/RunDetail";
import { SignIn } from "./components/SignIn";
import { Alerts } from "./components/Alerts";
import { Schedules } from "./components/Schedules";
import { Settings } from "./components/Settings";

type Me = { name: string; role: string };

export function App() {
  const [me, setMe] = useState<Me | "signed-out" | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.session().then(
      (s) => setMe(s.signedIn ? { name: s.name ?? "", role: s.role ?? "" } : "signed-out"),
      (e: unknown) => setError(e instanceof Error ? e.message : String(e)),
    );
  }, []);
  if (error) return <p role="alert" className="page-error">The server did not answer: {error}</p>;
  if (me === null) return <p className="loading">Loading…</p>;
  if (me === "signed-out") return <SignIn />;
  return <Workspace me={me} />;
}

const TABS = ["History", "Models", "Schedules", "Settings", "Charts", "Alerts"] as const;
type Tab = (typeof TABS)[number];

function Workspace({ me }: { me: Me }) {
  const socket = useMemo(connect, []);
  const store = useMemo(() => new LogStore((jobId, after) => api.logs(jobId, after, 5000)), []);
  const [models, setModels] = useState<Model[]>([]);
  const [jobsTick, setJobsTick] = useState(0);
  const [lastEvent, setLastEvent] = useState<JobEvent | null>(null);
  // `/sandbox?job=ID` (the link in alerts) opens that run
  const [openJob, setOpenJob] = useState<string | null>(() => new URLSearchParams(window.location.search).get("job"));
  const [tab, setTab] = useState<Tab>("History");
  const [notice, setNotice] = useState<string | null>(null);
  const loadedAt = useRef(Date.now());

  const reloadModels = useCallback(async () => {
    try {
      setModels((await api.models()).models);
    } catch (e) {
      setNotice(e instanceof Error ? e.message : String(e));
    }
  }, []);
  useEffect(() => void reloadModels(), [reloadModels]);

  // Job events arrive in bursts; one refetch per burst is enough.
  const tickTimer = useRef<number | undefined>(undefined);
  const bumpJobs = useCallback(() => {
    window.clearTimeout(tickTimer.current);
    tickTimer.current = window.setTimeout(() => setJobsTick((t) => t + 1), 250);
  }, []);

  useEffect(() => {
    let everConnected = false;
    const onLogs = (batch: LogBatch) => store.receiveBatch(batch);
    const onReplay = (notice: { jobId: string }) => void store.backfill(notice.jobId);
    const onJob = (event: JobEvent) => {
      store.track(event.jobId, event.modelType);
      setLastEvent(event);
      bumpJobs();
    };
    const onConnect = async () => {
      if (!everConnected) {
        everConnected = true;
        return;
      }
      // Back after a drop: fetch every line we missed, including runs that started meanwhile.
      try {
        const { jobs } = await api.jobs({ limit: 50 });
        for (const job of jobs) {
          if (Date.parse(job.created_at) >= loadedAt.current - 5000) store.track(job.job_id, job.model_type);
        }
      } catch {
        // the REST side is still coming back; the known jobs resync anyway
      }
      await store.resync();
      bumpJobs();
    };
    socket.on("optimization:logs", onLogs);
    socket.on("optimization:replay", onReplay);
    for (const name of JOB_EVENTS) socket.on(name, onJob);
    socket.on("connect", onConnect);
    return () => {
      socket.off("optimization:logs", onLogs);
      socket.off("optimization:replay", onReplay);
      for (const name of JOB_EVENTS) socket.off(name, onJob);
      socket.off("connect", onConnect);
    };
  }, [socket, store, bumpJobs]);
  useEffect(() => {
    socket.connect();
    return () => void socket.disconnect();
  }, [socket]);

  const onStarted = useCallback(
    (jobId: string, modelType: string) => {
      store.track(jobId, modelType);
      bumpJobs();
    },
    [store, bumpJobs],
  );

  return (
    <div className="app">
      <Header me={me} socket={socket} jobsTick={jobsTick} />
      {notice && (
        <div role="alert" className="notice">
          {notice} <button onClick={() => setNotice(null)}>Dismiss</button>
        </div>
      )}
      <main>
        <div className="top">
          <div className="left">
            <UploadCard onUploaded={reloadModels} role={me.role} />
            <ControlPanel role={me.role} models={models} jobsTick={jobsTick} lastEvent={lastEvent} onStarted={onStarted} onOpen={setOpenJob} />
          </div>
          <LogPanel store={store} socket={socket} />
        </div>
        <section className="tabs-section">
          <div role="tablist" aria-label="Views" className="tabs">
            {TABS.filter((name) => name !== "Alerts" || me.role === "admin").map((name) => (
              <button
                key={name} role="tab" id={`tab-${name}`} aria-selected={tab === name} aria-controls={`panel-${name}`}
                className={tab === name ? "tab active" : "tab"} onClick={() => setTab(name)}
              >
                {name}
              </button>
            ))}
          </div>
          <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
            {tab === "History" && <History jobsTick={jobsTick} onOpen={setOpenJob} />}
            {tab === "Models" && <ModelsTable models={models} reload={reloadModels} role={me.role} />}
            {tab === "Schedules" && <Schedules role={me.role} />}
            {tab === "Settings" && <Settings role={me.role} models={models} />}
            {tab === "Charts" && <Charts jobsTick={jobsTick} />}
            {tab === "Alerts" && <Alerts onOpen={setOpenJob} />}
          </div>
        </section>
      </main>
      {openJob && <RunDetail jobId={openJob} jobsTick={jobsTick} onClose={() => setOpenJob(null)} onStarted={onStarted} />}
    </div>
  );
}
