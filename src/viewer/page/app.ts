/// <reference lib="dom" />
export function probe(): string {
  return document.title;
}
