/** Builds `dist/<hash>/` from apps/ and infra/ when the sources changed; resolves with its path. See start.mjs. */
export function compiled(): Promise<string>;
