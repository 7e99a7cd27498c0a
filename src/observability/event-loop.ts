/**
 * Event-loop lag from `perf_hooks.monitorEventLoopDelay`: the one number that shows a relay
 * process falling behind (every relayed message waits for the loop).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/** Sampling resolution of the delay monitor, in milliseconds. */
const RESOLUTION_MS = 10;
const NS_PER_SECOND = 1e9;

/**
 * Registers `ofgw_event_loop_lag_seconds{stat="p50"|"p99"|"max"}` and starts the monitor.
 * Each scrape reports the delays sampled since the previous scrape, then resets the
 * histogram (as prom-client's own lag metric does): a lifetime maximum would never recover
 * from one slow start-up. Returns a function that stops the monitor.
 */
export function startEventLoopLag(registry: Registry): () => void {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  new Gauge({
    name: 'ofgw_event_loop_lag_seconds',
    help: 'Event-loop delay since the previous scrape: median, 99th percentile and maximum',
    labelNames: ['stat'],
    registers: [registry],
    collect() {
      // With no sample yet every statistic is 0 (the histogram's min would be a sentinel).
      const sampled = histogram.count > 0;
      this.set({ stat: 'p50' }, sampled ? histogram.percentile(50) / NS_PER_SECOND : 0);
      this.set({ stat: 'p99' }, sampled ? histogram.percentile(99) / NS_PER_SECOND : 0);
      this.set({ stat: 'max' }, sampled ? histogram.max / NS_PER_SECOND : 0);
      histogram.reset();
    },
  });
  return () => histogram.disable();
}
