// Readers of /proc: a process's CPU time and memory, and the machine's load, for fair per-CPU-second figures.
// @ts-check

import { readFileSync } from 'node:fs';

/** Clock ticks per second (sysconf(_SC_CLK_TCK)); 100 on every Linux this bench targets. */
const CLOCK_TICKS = 100;

/**
 * User and system CPU seconds a process has used so far (all its threads).
 * @param {number} pid
 * @returns {{ user: number; system: number }}
 */
export function cpuTimes(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLOCK_TICKS, system: Number(fields[12]) / CLOCK_TICKS };
}

/**
 * User + system CPU seconds a process has used so far (all its threads).
 * @param {number} pid
 * @returns {number}
 */
export function cpuSeconds(pid) {
  const { user, system } = cpuTimes(pid);
  return user + system;
}

/**
 * Resident set size of a process in bytes (VmRSS).
 * @param {number} pid
 * @returns {number}
 */
export function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match === null ? 0 : Number(match[1]) * 1024;
}

/**
 * Open file descriptors of a process's own limit ("Max open files" soft limit).
 * @param {number} pid
 * @returns {number}
 */
export function openFileLimit(pid) {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const match = /^Max open files\s+(\d+)/m.exec(limits);
  return match === null ? 0 : Number(match[1]);
}

/**
 * @typedef {object} MachineSnapshot
 * @property {number} busy   jiffies the machine's CPUs spent not idle
 * @property {number} total  all jiffies
 * @property {number} steal  jiffies the hypervisor gave to other guests
 * @property {number[]} loadavg 1, 5 and 15 minute load averages
 * @property {number} at     ms (performance.now) when taken
 */

/** @returns {MachineSnapshot} */
export function machineSnapshot() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const jiffies = line.trim().split(/\s+/).slice(1).map(Number);
  const total = jiffies.reduce((sum, value) => sum + value, 0);
  // idle + iowait
  const idle = (jiffies[3] ?? 0) + (jiffies[4] ?? 0);
  const loadavg = readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/).slice(0, 3).map(Number);
  return { busy: total - idle, total, steal: jiffies[7] ?? 0, loadavg, at: performance.now() };
}

/**
 * @typedef {object} MachineLoad
 * @property {number} cpuBusyPercent  share of all CPUs busy over the window (every process, bench included)
 * @property {number} stealPercent    share of CPU time taken by the hypervisor for other guests
 * @property {number[]} loadavg       load averages at the end of the window
 */

/**
 * Machine load between two snapshots.
 * @param {MachineSnapshot} before
 * @param {MachineSnapshot} after
 * @returns {MachineLoad}
 */
export function machineLoad(before, after) {
  const total = after.total - before.total;
  return {
    cpuBusyPercent: total > 0 ? Math.round((1000 * (after.busy - before.busy)) / total) / 10 : 0,
    stealPercent: total > 0 ? Math.round((1000 * (after.steal - before.steal)) / total) / 10 : 0,
    loadavg: after.loadavg,
  };
}
