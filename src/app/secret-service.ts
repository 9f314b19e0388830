/** pgvault's secret store behind the API's SecretService: values go in sealed under the master key and never
 *  come back out through the API (only names and times). */
import { UserErrorNotFound } from '../lib/index.ts';
import type { SecretStore } from '../secrets/index.ts';
import type { SecretInfo, SecretService } from '../api/index.ts';

const view = (s: { name: string; createdAt: Date; updatedAt: Date }): SecretInfo => ({ name: s.name, createdAt: s.createdAt.toISOString(), updatedAt: s.updatedAt.toISOString() });

export function secretServiceOf(store: SecretStore): SecretService {
  const info = async (name: string) => {
    const found = (await store.list()).find((s) => s.name === name);
    if (!found) throw new UserErrorNotFound(`secret "${name}" does not exist`, { hint: 'List the secrets with `pgvault secret list`.' });
    return view(found);
  };
  return {
    async set(name, value) {
      await store.set(name, value);
      return info(name);
    },
    list: async () => (await store.list()).map(view),
    async delete(name) {
      const before = await info(name);
      await store.delete(name);
      return before;
    },
  };
}
