/** The JSON shapes of the HTTP API as TypeBox schemas: request bodies, query strings and resources.
 *  The server validates against them (additionalProperties: false everywhere) and derives /openapi.json
 *  from them; the CLI uses their static types. Shapes here are public API: add fields, never repurpose one. */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { permissions, roles } from './roles.ts';

/** Names of vaults, policies, instances, secrets and tokens: no `/`, `..`, NUL, quotes or spaces. */
export const namePattern = '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';
export const Name = Type.String({
  pattern: namePattern,
  minLength: 1,
  maxLength: 63,
  description: "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit",
});

const strict = { additionalProperties: false } as const;
const Id = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' });
const Timestamp = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const RoleSchema = Type.Union(roles.map((r) => Type.Literal(r)));
export const PermissionSchema = Type.Union(permissions.map((p) => Type.Literal(p)));

// ---- problems (RFC 9457) ----
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'the stable error code, documented in docs/errors.md' }),
    category: Type.Union([Type.Literal('user'), Type.Literal('integrity'), Type.Literal('transient'), Type.Literal('internal')]),
    hint: Type.Optional(Type.String()),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { $id: 'Problem' },
);
export type Problem = Static<typeof Problem>;

// ---- pagination ----
export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 500, pattern: '^[A-Za-z0-9_-]*$' })),
  },
  strict,
);
export type PageQuery = Static<typeof PageQuery>;
export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Nullable(Type.String()) }, strict);
export interface PageOf<T> {
  items: T[];
  nextCursor: string | null;
}

// ---- tokens ----
export const TokenCreate = Type.Object({ name: Name, role: RoleSchema }, strict);
export type TokenCreate = Static<typeof TokenCreate>;
export const Token = Type.Object({
  id: Id,
  name: Type.String(),
  role: RoleSchema,
  createdAt: Timestamp,
  createdBy: Nullable(Type.String()),
  lastUsedAt: Nullable(Timestamp),
  revokedAt: Nullable(Timestamp),
});
export type Token = Static<typeof Token>;
export const TokenCreated = Type.Object({
  ...Token.properties,
  token: Type.String({ description: 'pgv_<id>_<secret>: shown once, never again' }),
});
export type TokenCreated = Static<typeof TokenCreated>;
export const TokenList = Page(Token);

export const IdParams = Type.Object({ id: Id }, strict);
export const NameParams = Type.Object({ name: Name }, strict);

// ---- who am I ----
export const WhoAmI = Type.Object({ tokenId: Type.String(), name: Type.String(), role: RoleSchema, permissions: Type.Array(PermissionSchema) });
export type WhoAmI = Static<typeof WhoAmI>;

// ---- audit ----
export const AuditEntry = Type.Object({
  id: Type.String(),
  at: Timestamp,
  actor: Type.String({ description: 'token id and name, or "anonymous"' }),
  action: Type.String({ description: 'METHOD /route' }),
  target: Nullable(Type.String()),
  result: Type.String({ description: '"ok" or the error code' }),
  status: Type.Integer(),
});
export type AuditEntry = Static<typeof AuditEntry>;
export const AuditList = Page(AuditEntry);

// ---- health ----
export const Health = Type.Object({ status: Type.Literal('ok'), version: Type.String() });
export type Health = Static<typeof Health>;
