// A small hand-made SVG line chart for live series (round trips, messages per second).

import { useId } from 'react';

/** One line of the chart. */
export interface ChartSeries {
  label: string;
  /** CSS colour of the line and its fill. */
  color: string;
  /** Oldest first; only the last `capacity` values are drawn. */
  values: readonly number[];
}

interface LiveChartProps {
  series: readonly ChartSeries[];
  /** How many points fit across the chart; fewer points are drawn right-aligned. */
  capacity: number;
  /** Formats the top-of-scale label. */
  formatValue: (value: number) => string;
  height?: number;
  testId?: string;
}

const WIDTH = 300;

function points(values: readonly number[], capacity: number, max: number, height: number): string {
  const step = WIDTH / Math.max(1, capacity - 1);
  const offset = capacity - values.length;
  return values
    .map((value, index) => `${((offset + index) * step).toFixed(1)},${(height - (value / max) * (height - 4) - 2).toFixed(1)}`)
    .join(' ');
}

/** A live line chart with a filled area under each series, scaled to its largest visible value. */
export function LiveChart({ series, capacity, formatValue, height = 80, testId }: LiveChartProps) {
  const gradientId = useId();
  const visible = series.map((line) => ({ ...line, values: line.values.slice(-capacity) }));
  const largest = Math.max(0, ...visible.flatMap((line) => line.values));
  // Headroom so the top of a spike is not glued to the frame.
  const max = largest > 0 ? largest * 1.15 : 1;
  const hasData = visible.some((line) => line.values.length > 0);
  return (
    <figure className="chart" data-testid={testId}>
      <svg viewBox={`0 0 ${WIDTH} ${height}`} preserveAspectRatio="none" role="img" aria-label={series.map((line) => line.label).join(', ')}>
        <defs>
          {visible.map((line, index) => (
            <linearGradient key={line.label} id={`${gradientId}-${index}`} x1="0" x2="0" y1="0" y2="1">
              <stop offset="0%" stopColor={line.color} stopOpacity="0.35" />
              <stop offset="100%" stopColor={line.color} stopOpacity="0" />
            </linearGradient>
          ))}
        </defs>
        {[0.25, 0.5, 0.75].map((fraction) => (
          <line key={fraction} className="chart-grid" x1="0" x2={WIDTH} y1={height * fraction} y2={height * fraction} />
        ))}
        {visible.map((line, index) => {
          if (line.values.length === 0) return null;
          const path = points(line.values, capacity, max, height);
          const firstX = path.slice(0, path.indexOf(','));
          return (
            <g key={line.label}>
              <polygon points={`${firstX},${height} ${path} ${WIDTH},${height}`} fill={`url(#${gradientId}-${index})`} />
              <polyline points={path} fill="none" stroke={line.color} strokeWidth="2" vectorEffect="non-scaling-stroke" strokeLinejoin="round" />
            </g>
          );
        })}
      </svg>
      <figcaption>
        <span className="chart-scale">{hasData ? `max ${formatValue(largest)}` : 'waiting for data'}</span>
        <span className="chart-legend">
          {series.map((line) => (
            <span key={line.label}><i style={{ background: line.color }} />{line.label}</span>
          ))}
        </span>
      </figcaption>
    </figure>
  );
}
