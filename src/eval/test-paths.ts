// Which changed paths are tests, which are documentation, and which are source, by path conventions alone (no
// file is read): test/, tests/, __tests__/, spec/ folders and *.test.*, *.spec.*, *_test.*, test_*.py names.
// Mining splits a commit's change on this line: tests go to `test_patch`, source to `patch`.

const TEST_DIRS = /(^|\/)(test|tests|__tests__|spec|specs|testing)\//i;
const TEST_NAMES = /(\.(test|spec)\.[^/]+$)|(_(test|spec)\.[^/]+$)|((^|\/)test_[^/]+\.py$)|((^|\/)conftest\.py$)/i;
const DOC_NAMES = /\.(md|mdx|markdown|rst|txt|adoc|png|jpe?g|gif|svg)$/i;
const DOC_DIRS = /(^|\/)(docs?|documentation)\//i;
const DOC_FILES = /(^|\/)(LICEN[CS]E|COPYING|AUTHORS|CHANGELOG|CHANGES|NOTICE)[^/]*$/i;

export type PathKind = "test" | "doc" | "source";

export function pathKind(file: string): PathKind {
  if (TEST_DIRS.test(file) || TEST_NAMES.test(file)) return "test";
  if (DOC_DIRS.test(file) || DOC_NAMES.test(file) || DOC_FILES.test(file)) return "doc";
  return "source";
}
