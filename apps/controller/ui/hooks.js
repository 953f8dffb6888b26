import { useCallback, useEffect, useRef, useState } from './vendor/standalone.module.js';
import { api } from './api.js';

/**
 * Loads `path` from the API and again every `intervalMs` (0: once), keeping the last good answer
 * on screen while a reload fails. Returns `{ data, error, reload }`.
 */
export function usePoll(path, intervalMs = 0) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  const current = useRef(path);
  current.current = path;
  const reload = useCallback(async () => {
    if (!path) return;
    try {
      const data = await api(path);
      if (current.current === path) setState({ data, error: undefined });
    } catch (error) {
      if (current.current === path) setState((s) => ({ data: s.data, error }));
    }
  }, [path]);
  useEffect(() => {
    setState({ data: undefined, error: undefined });
    void reload();
    if (!intervalMs) return undefined;
    const timer = setInterval(() => void reload(), intervalMs);
    return () => clearInterval(timer);
  }, [path, intervalMs, reload]);
  return { ...state, reload };
}
