/**
 * GGeM's channel groups: contiguous, K = ceil(C/G) channels each, channel c in group
 * floor(c/K). The last group may be smaller; none may be empty.
 */
export function groupSize(channels: number, groups: number): number {
  checkGroups(channels, groups);
  return Math.ceil(channels / groups);
}

/** The G in 1..C for which every group is non-empty. */
export function allowedGroups(channels: number): number[] {
  return Array.from({ length: channels }, (_, i) => i + 1).filter((g) => Math.ceil(channels / Math.ceil(channels / g)) === g);
}

export function checkGroups(channels: number, groups: number): void {
  if (!Number.isInteger(groups) || groups < 1 || groups > channels || Math.ceil(channels / Math.ceil(channels / groups)) !== groups) {
    const ok = allowedGroups(channels);
    const shown = ok.length > 24 ? [...ok.slice(0, 20), '…', ...ok.slice(-3)] : ok;
    throw new Error(
      `ggem: ${groups} groups do not fit ${channels} channels (groups of ceil(${channels}/${groups}) = ${Math.ceil(channels / groups)} channels leave a group empty or exceed the channels); allowed: ${shown.join(', ')}`,
    );
  }
}

/** The group index of every channel, as an int32 index for indexSelect. */
export function channelGroups(channels: number, groups: number): number[] {
  const k = groupSize(channels, groups);
  return Array.from({ length: channels }, (_, c) => Math.floor(c / k));
}
