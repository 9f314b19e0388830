/** Roles and permissions of the HTTP API, shared by the server (enforcement), the CLI and docs/api.md.
 *  A role is a fixed set of permissions; every route declares exactly one required permission.
 *  Role names are stored with tokens in the catalog: never rename or reuse one. */

export const roles = ['reader', 'backup-operator', 'restore-operator', 'contributor', 'admin'] as const;
export type Role = (typeof roles)[number];

/** What a route may require. `public` routes (health, the OpenAPI document) need no token. */
export const permissions = ['public', 'read', 'backup', 'restore', 'manage', 'admin'] as const;
export type Permission = (typeof permissions)[number];

/** reader < backup-operator / restore-operator < contributor < admin. */
export const rolePermissions: Record<Role, ReadonlySet<Permission>> = {
  reader: new Set<Permission>(['public', 'read']),
  'backup-operator': new Set<Permission>(['public', 'read', 'backup']),
  'restore-operator': new Set<Permission>(['public', 'read', 'restore']),
  contributor: new Set<Permission>(['public', 'read', 'backup', 'restore', 'manage']),
  admin: new Set<Permission>(['public', 'read', 'backup', 'restore', 'manage', 'admin']),
};

export function roleAllows(role: Role, permission: Permission): boolean {
  return rolePermissions[role].has(permission);
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (roles as readonly string[]).includes(value);
}
