/** The pg_dump custom archive format: a streaming reader that yields the TOC and the byte range of every data
 *  block, used at backup time (no second pass) and to assemble partial archives for parallel restore. */
export * from './archive-format.ts';
export * from './archive-reader.ts';
export * from './reblock.ts';
export * from './toc-edit.ts';
