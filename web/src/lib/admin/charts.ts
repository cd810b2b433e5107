// Chart.js with only the parts the console draws (bars, lines, doughnuts), registered once.
// Imported by admin pages only: buyers never download it.
import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  DoughnutController,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, DoughnutController, ArcElement, CategoryScale, LinearScale, Tooltip, Legend, Filler);

Chart.defaults.font.family = getComputedStyle(document.documentElement).getPropertyValue('--font-body') || 'system-ui, sans-serif';
Chart.defaults.color = '#55536a';
Chart.defaults.borderColor = '#e6e3f0';
// Numbers change while a sale runs: no animation to sit through (and none for reduced motion).
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

export { Chart };
export type { ChartConfiguration };

/** The console's colours (contrast-checked against white). */
export const COLORS = {
  sold: '#3a2fa8',
  held: '#b85f00',
  free: '#d6d3e4',
  revenue: '#12703a',
  refunds: '#b3261e',
  series: ['#3a2fa8', '#12703a', '#b85f00', '#0a66d6', '#8a1f7a', '#55536a', '#b3261e', '#2a8a8a'],
} as const;
