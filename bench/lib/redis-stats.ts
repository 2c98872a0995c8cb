/** What a Redis server spent: INFO commandstats and INFO cpu, read between CONFIG RESETSTAT and now. */
import type { Redis } from 'ioredis';

export interface CommandStat {
  command: string;
  calls: number;
  usec: number;
  usecPerCall: number;
}

/** Commands by total time, longest first. Commands a Lua script runs are counted too (and inside its eval's time). */
export async function commandStats(redis: Redis): Promise<CommandStat[]> {
  const text = await redis.info('commandstats');
  const stats: CommandStat[] = [];
  for (const line of text.split(/\r?\n/)) {
    const match = /^cmdstat_([^:]+):(.*)$/.exec(line);
    if (!match) continue;
    const fields = Object.fromEntries((match[2] as string).split(',').map((pair) => pair.split('=') as [string, string]));
    stats.push({ command: match[1] as string, calls: Number(fields.calls), usec: Number(fields.usec), usecPerCall: Number(fields.usec_per_call) });
  }
  return stats.sort((a, b) => b.usec - a.usec);
}

/** used_cpu_user + used_cpu_sys of the server, in seconds. */
export async function serverCpuSeconds(redis: Redis): Promise<number> {
  const text = await redis.info('cpu');
  const value = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  return value('used_cpu_user') + value('used_cpu_sys');
}

/** Resets the counters INFO commandstats reports. */
export async function resetStats(redis: Redis): Promise<void> {
  await redis.config('RESETSTAT');
}

/** Bytes the server read from and wrote to its clients since the last CONFIG RESETSTAT. */
export async function networkBytes(redis: Redis): Promise<{ input: number; output: number }> {
  const text = await redis.info('stats');
  const value = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { input: value('total_net_input_bytes'), output: value('total_net_output_bytes') };
}
