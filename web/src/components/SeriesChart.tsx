// One line chart of result series (recharts), as a single named image: the run detail draws a file's
// columns with it, the comparison one column of several runs.
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { axesNeeded, PRICE_AXIS, VALUE_AXIS, type ChartPoint } from "../lib/results";

export const PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4b5563", "#db2777", "#65a30d", "#7c3aed"];

export interface ChartLine {
  key: string;
  name: string;
  axis: typeof VALUE_AXIS | typeof PRICE_AXIS;
  colour: string;
}

interface Props {
  label: string;
  points: ChartPoint[];
  lines: ChartLine[];
  numericX: boolean;
  xLabel: string;
}

/** The svg itself carries role="img" and the name (recharts puts both on its root svg), so assistive
 * technology and tests meet one named image; each drawn line is one `.recharts-line`, counted in
 * `data-series` on the wrapper as well. Values are read through a function, so column names with dots
 * are not taken for paths. */
export function SeriesChart({ label, points, lines, numericX, xLabel }: Props) {
  const axes = axesNeeded(lines.map((l) => l.axis));
  return (
    <div className="series-chart" data-series={lines.length}>
      <ResponsiveContainer width="100%" height={260}>
        <LineChart data={points} role="img" aria-label={label} margin={{ left: 10, right: 10, top: 8 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis
            dataKey="x" type={numericX ? "number" : "category"} domain={numericX ? ["dataMin", "dataMax"] : undefined}
            label={{ value: xLabel, position: "insideBottomRight", offset: -2 }} height={36}
          />
          {axes.value && <YAxis yAxisId={VALUE_AXIS} width={70} />}
          {axes.price && <YAxis yAxisId={PRICE_AXIS} orientation="right" width={70} />}
          <Tooltip />
          <Legend />
          {lines.map((line) => (
            <Line
              key={line.key} yAxisId={line.axis} dataKey={(p: ChartPoint) => p[line.key]} name={line.name}
              type={numericX ? "stepAfter" : "linear"} stroke={line.colour} dot={false} isAnimationActive={false}
              connectNulls={false}
            />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
