/** Test support shared by integration, e2e and crash tests: the real-PostgreSQL cluster harness, the realistic
 *  fixture database and the database comparison helper. Test code only: nothing in src/ may import it. */
export * from './pg-cluster.ts';
export * from './fixture.ts';
export * from './compare-databases.ts';
