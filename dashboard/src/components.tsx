/** Pieces every page uses: request state, form fields, errors, confirmations, copying, times. */
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure } from './api';

/** The message to show for a failure: the server's `error` text, or what went wrong. */
export function describe(err: unknown): string {
  if (err instanceof ApiFailure) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * One request at a time for a form or button: `busy` while in flight (disable the button),
 * `error` when it failed (the inputs stay as they were), cleared on the next try.
 */
export function useAction(): {
  busy: boolean;
  error: string | undefined;
  setError: (message: string | undefined) => void;
  run: <T>(work: () => Promise<T>) => Promise<T | undefined>;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const mounted = useRef(true);
  useEffect(() => () => void (mounted.current = false), []);
  const run = useCallback(async <T,>(work: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      return await work();
    } catch (err) {
      if (mounted.current) setError(describe(err));
      return undefined;
    } finally {
      if (mounted.current) setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}

/** Data loaded from the API, with its error, and a reload. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: string | undefined; loading: boolean; reload: () => Promise<void> } {
  const [data, setData] = useState<T | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [loading, setLoading] = useState(true);
  const latest = useRef(0);
  const reload = useCallback(async () => {
    const ticket = ++latest.current;
    setLoading(true);
    try {
      const value = await load();
      if (ticket !== latest.current) return;
      setData(value);
      setError(undefined);
    } catch (err) {
      if (ticket === latest.current) setError(describe(err));
    } finally {
      if (ticket === latest.current) setLoading(false);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error, loading, reload };
}

/** A form's error, announced to screen readers, next to the form. */
export function FormError({ error }: { error: string | undefined }): JSX.Element | null {
  if (!error) return null;
  return (
    <p class="form-error" role="alert">
      {error}
    </p>
  );
}

interface FieldProps {
  label: string;
  name: string;
  value: string;
  onInput: (value: string) => void;
  type?: 'text' | 'password' | 'url' | 'datetime-local';
  placeholder?: string;
  hint?: ComponentChildren;
  required?: boolean;
  autoComplete?: string;
}

/** A labelled input; secrets use type="password" and are never shown back. */
export function Field({ label, name, value, onInput, type = 'text', placeholder, hint, required, autoComplete = 'off' }: FieldProps): JSX.Element {
  return (
    <label class="field">
      <span class="field-label">
        {label}
        {required ? <span class="required"> *</span> : null}
      </span>
      <input
        name={name}
        type={type}
        value={value}
        placeholder={placeholder}
        autoComplete={autoComplete}
        spellcheck={false}
        onInput={(e) => onInput((e.currentTarget as HTMLInputElement).value)}
      />
      {hint ? <span class="field-hint">{hint}</span> : null}
    </label>
  );
}

/**
 * A button that asks first: the first click shows "label? Yes / Cancel" in place, the
 * second does it.
 */
export function ConfirmButton({
  label,
  question,
  onConfirm,
  disabled,
  danger = true,
}: {
  label: string;
  question: string;
  onConfirm: () => void;
  disabled?: boolean;
  danger?: boolean;
}): JSX.Element {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" class={danger ? 'danger' : ''} disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <Confirmation
      question={question}
      label={label}
      danger={danger}
      disabled={disabled}
      onConfirm={() => {
        setAsking(false);
        onConfirm();
      }}
      onCancel={() => setAsking(false)}
    />
  );
}

/**
 * The question a confirmation asks in place, with "Yes, <label>" and Cancel. `children`
 * replace the question's text when it needs more (a count, a choice); `question` still names
 * the group for screen readers.
 */
export function Confirmation({
  question,
  label,
  onConfirm,
  onCancel,
  disabled,
  danger = true,
  children,
}: {
  question: string;
  label: string;
  onConfirm: () => void;
  onCancel: () => void;
  disabled?: boolean;
  danger?: boolean;
  children?: ComponentChildren;
}): JSX.Element {
  return (
    <span class="confirm" role="group" aria-label={question}>
      <span class="confirm-question">{children ?? question}</span>
      <button type="button" class={danger ? 'danger' : 'primary'} disabled={disabled} onClick={onConfirm}>
        Yes, {label.toLowerCase()}
      </button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </span>
  );
}

/** Copies `text` to the clipboard, saying whether it worked. */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }): JSX.Element {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      setState('failed');
    }
  };
  return (
    <button type="button" class="primary" onClick={() => void copy()}>
      {state === 'copied' ? 'Copied ✓' : state === 'failed' ? 'Copy failed: select the key and copy it' : label}
    </button>
  );
}

/** A time as the viewer's local date and time, with the ISO value on hover. */
export function Time({ iso, empty = '—' }: { iso: string | null | undefined; empty?: string }): JSX.Element {
  if (!iso) return <span class="muted">{empty}</span>;
  const date = new Date(iso);
  return (
    <time dateTime={iso} title={iso}>
      {date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })}
    </time>
  );
}

/** A short, copyable look at a UUID. */
export function Id({ id }: { id: string }): JSX.Element {
  return (
    <code class="id" title={id}>
      {id.slice(0, 8)}
    </code>
  );
}

export function Badge({ tone, children }: { tone: 'good' | 'bad' | 'warn' | 'neutral'; children: ComponentChildren }): JSX.Element {
  return <span class={`badge badge-${tone}`}>{children}</span>;
}

/** A page's title row with optional actions on the right. */
export function PageHeader({ title, children }: { title: string; children?: ComponentChildren }): JSX.Element {
  return (
    <div class="page-header">
      <h1>{title}</h1>
      {children ? <div class="page-actions">{children}</div> : null}
    </div>
  );
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }): JSX.Element {
  return (
    <section class="card" id={id} aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

/** A load failure in place of the data, with a retry. */
export function LoadError({ error, retry }: { error: string | undefined; retry: () => void }): JSX.Element | null {
  if (!error) return null;
  return (
    <p class="form-error" role="alert">
      {error}{' '}
      <button type="button" onClick={retry}>
        Retry
      </button>
    </p>
  );
}
