// Upload a model: drop a .py file (or a .zip / .tar.gz of a model's files) or pick one, choose its type,
// describe it. The server checks it and locks its dependencies; its message is shown as it is (a syntax
// error names the line, a dependency that cannot be installed says why in uv's words).
import { useRef, useState, type DragEvent, type FormEvent } from "react";
import { uploadModel } from "../lib/api";
import { mayOperate, MODEL_TYPES } from "../lib/types";

export function UploadCard({ onUploaded, role = "admin" }: { onUploaded: () => void; role?: string }) {
  const allowed = mayOperate(role);
  const [file, setFile] = useState<File | null>(null);
  const [modelType, setModelType] = useState<string>("DMO");
  const [description, setDescription] = useState("");
  // unchecked: a candidate, run by id from the Models tab; the type's schedule keeps its active model
  const [activate, setActivate] = useState(true);
  const [progress, setProgress] = useState<number | null>(null);
  const [result, setResult] = useState<{ ok: boolean; message: string } | null>(null);
  const [dragging, setDragging] = useState(false);
  const picker = useRef<HTMLInputElement>(null);

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    const dropped = event.dataTransfer.files[0];
    if (dropped) setFile(dropped);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) {
      setResult({ ok: false, message: "choose a .py file or a model archive first" });
      return;
    }
    const form = new FormData();
    form.append("file", file);
    form.append("modelType", modelType);
    form.append("description", description);
    form.append("activate", String(activate));
    setResult(null);
    setProgress(0);
    const outcome = await uploadModel(form, setProgress);
    setProgress(outcome.ok ? 1 : null);
    setResult(outcome);
    if (outcome.ok) {
      onUploaded();
      setFile(null);
      setDescription("");
      if (picker.current) picker.current.value = "";
    }
  };

  return (
    <section className="card upload" aria-labelledby="upload-title">
      <h2 id="upload-title">Upload a model</h2>
      <form onSubmit={submit}>
        <div
          className={dragging ? "dropzone dragging" : "dropzone"}
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
        >
          <label htmlFor="model-file">Model file (.py, or .zip / .tar.gz of its files)</label>
          <input id="model-file" ref={picker} type="file" accept=".py,.zip,.tar.gz,.tgz,text/x-python" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
          <span className="muted small">{file ? `${file.name} (${file.size} B)` : "or drop it here"}</span>
        </div>
        <div className="row">
          <label htmlFor="model-type">Model type</label>
          <select id="model-type" value={modelType} onChange={(e) => setModelType(e.target.value)}>
            {MODEL_TYPES.map((t) => (
              <option key={t} value={t}>{t}</option>
            ))}
          </select>
          <label htmlFor="model-description">Description</label>
          <input id="model-description" value={description} maxLength={500} onChange={(e) => setDescription(e.target.value)} />
          <label className="inline" title="Unchecked: a candidate; the type's active model and its scheduled runs stay as they are">
            <input type="checkbox" checked={activate} onChange={(e) => setActivate(e.target.checked)} /> Make active
          </label>
        </div>
        <div className="row">
          <button
            type="submit" aria-describedby={allowed ? undefined : "upload-reason"}
            disabled={!allowed || (progress !== null && progress < 1 && result === null)}
          >
            Upload
          </button>
          <progress aria-label="Upload progress" max={1} value={progress ?? 0} />
        </div>
        {!allowed && (
          <p id="upload-reason" className="muted small">Upload is disabled: your key's role ({role}) may not upload; operators and admins may.</p>
        )}
        {result && (
          <p role={result.ok ? "status" : "alert"} className={result.ok ? "ok" : "error"} data-testid="upload-message">
            {result.message}
          </p>
        )}
      </form>
    </section>
  );
}
