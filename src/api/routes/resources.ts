/** Routes for vaults, secrets, policies and backup instances: thin handlers over the service ports.
 *  Validation of shapes happens in the schemas; rules that need state (unknown vault, taken name, missing
 *  secret) come back from the services as coded errors. Secret values are accepted, never answered. */
import { UserErrorInvalidInput } from '../../lib/index.ts';
import { routes } from '../contract/index.ts';
import { addRoute, type ApiServer } from '../add-route.ts';
import { pageDescending } from '../pagination.ts';
import type { InstanceService, PolicyService, SecretService, VaultService } from '../ports.ts';

const byCreated = (x: { createdAt: string; id: string }) => ({ k: x.createdAt, id: x.id });

export function vaultRoutes(api: ApiServer, vaults: VaultService): void {
  addRoute(api, routes.vaultCreate, async ({ body, setAuditTarget }) => {
    setAuditTarget(`vault:${body.name}`);
    return vaults.create(body);
  });
  addRoute(api, routes.vaultAttach, async ({ body, setAuditTarget }) => {
    setAuditTarget(`vault:${body.name}`);
    return vaults.attach(body);
  });
  addRoute(api, routes.vaultList, async ({ query }) => pageDescending(await vaults.list(), query, byCreated));
  addRoute(api, routes.vaultShow, async ({ params }) => vaults.get(params.ref));
}

export function secretRoutes(api: ApiServer, secrets: SecretService): void {
  addRoute(api, routes.secretSet, async ({ params, body, setAuditTarget }) => {
    setAuditTarget(`secret:${params.name}`);
    if (body.value.includes('\u0000')) {
      throw new UserErrorInvalidInput('body field "value" contains a NUL character', { hint: 'Secret values are text (a password or a postgresql:// URI).', details: { field: 'value' } });
    }
    return secrets.set(params.name, body.value);
  });
  addRoute(api, routes.secretList, async ({ query }) => pageDescending(await secrets.list(), query, (s) => ({ k: s.name, id: s.name })));
  addRoute(api, routes.secretDelete, async ({ params, setAuditTarget }) => {
    setAuditTarget(`secret:${params.name}`);
    return secrets.delete(params.name);
  });
}

export function policyRoutes(api: ApiServer, policies: PolicyService): void {
  addRoute(api, routes.policyCreate, async ({ body, setAuditTarget }) => {
    setAuditTarget(`policy:${body.vault}/${body.name}`);
    return policies.create(body);
  });
  addRoute(api, routes.policyList, async ({ query }) => {
    const { vault, ...page } = query;
    return pageDescending(await policies.list(vault === undefined ? {} : { vault }), page, byCreated);
  });
  addRoute(api, routes.policyShow, async ({ params }) => policies.get(params.ref));
}

export function instanceRoutes(api: ApiServer, instances: InstanceService): void {
  addRoute(api, routes.instanceCreate, async ({ body, setAuditTarget }) => {
    setAuditTarget(`instance:${body.name}`);
    return instances.create(body);
  });
  addRoute(api, routes.instanceList, async ({ query }) => {
    const { vault, ...page } = query;
    return pageDescending(await instances.list(vault === undefined ? {} : { vault }), page, byCreated);
  });
  addRoute(api, routes.instanceShow, async ({ params }) => instances.get(params.ref));
  addRoute(api, routes.instanceValidate, async ({ params }) => instances.validate(params.ref));
  addRoute(api, routes.instanceStop, async ({ params, body, setAuditTarget }) => {
    setAuditTarget(`instance:${params.ref}`);
    return instances.setState(params.ref, 'stopped', body.mode);
  });
  addRoute(api, routes.instanceSuspend, async ({ params, setAuditTarget }) => {
    setAuditTarget(`instance:${params.ref}`);
    return instances.setState(params.ref, 'suspended');
  });
  addRoute(api, routes.instanceResume, async ({ params, setAuditTarget }) => {
    setAuditTarget(`instance:${params.ref}`);
    return instances.setState(params.ref, 'protecting');
  });
}
