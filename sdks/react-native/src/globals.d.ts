// The parts of React Native's JavaScript environment this package uses; declared here so the
// package type-checks without the DOM library (React Native has no DOM and no EventSource).

interface XMLHttpRequestLike {
  readonly readyState: number;
  readonly status: number;
  readonly responseText: string;
  timeout: number;
  onprogress: (() => void) | null;
  onreadystatechange: (() => void) | null;
  onerror: (() => void) | null;
  ontimeout: (() => void) | null;
  open(method: string, url: string, async?: boolean): void;
  setRequestHeader(name: string, value: string): void;
  getResponseHeader(name: string): string | null;
  send(body?: string | null): void;
  abort(): void;
}

declare var XMLHttpRequest: {
  new (): XMLHttpRequestLike;
  readonly DONE: number;
  readonly HEADERS_RECEIVED: number;
};

declare function setTimeout(callback: () => void, ms: number): number;
declare function clearTimeout(handle: number | undefined): void;

declare var console: {
  warn(...data: unknown[]): void;
};
