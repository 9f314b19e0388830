/** Parsing of option values shared by commands; bad values are coded user errors naming the option. */
import { UserErrorInvalidInput } from '../lib/index.ts';

export function integerOption(flag: string, value: string): number {
  if (!/^-?\d{1,9}$/.test(value)) throw new UserErrorInvalidInput(`${flag} "${value}" is not a whole number`, { hint: `Give ${flag} as digits, for example ${flag} 2.`, details: { field: flag } });
  return Number(value);
}

/** Commander collector for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
