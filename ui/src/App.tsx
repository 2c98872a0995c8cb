/** The shell: navigation, the connection's state, the theme, and the token when the hub asks for one. */
import { A, type RouteSectionProps } from '@solidjs/router';
import { Match, Show, Switch, createSignal, onCleanup } from 'solid-js';
import { Tooltip } from './components/Tooltip.js';
import { HubContext } from './context.js';
import { OpenActor } from './inspector/OpenActor.js';
import { clock, setTimeZone, timeZone } from './format.js';
import { createHubStore, saveToken, savedToken, type HubStore } from './store.js';

const THEME_KEY = 'statehub.theme';

export function App(props: RouteSectionProps) {
  const store = createHubStore(location.origin, savedToken());
  onCleanup(() => store.close());
  // A new token means a new connection for every page: start the page over with it.
  const reconnect = (token: string | undefined) => {
    saveToken(token);
    location.reload();
  };
  const [theme, setTheme] = createSignal(localStorage.getItem(THEME_KEY) ?? 'auto');
  const applyTheme = (next: string) => {
    setTheme(next);
    localStorage.setItem(THEME_KEY, next);
    document.documentElement.dataset.theme = next;
  };
  applyTheme(theme());

  return (
    <HubContext.Provider value={store}>
      <header class="top">
        <A href="/" class="brand" end>
          statehub
        </A>
        <nav aria-label="pages">
          <A href="/" end>
            Overview
          </A>
          <A href="/jobs">Jobs</A>
          <A href="/submit">Submit</A>
          <A href="/system">System</A>
          <A href="/machines">Machines</A>
        </nav>
        <OpenActor />
        <ConnectionPill store={store} />
        <select class="zone" aria-label="time zone" value={timeZone()} onChange={(event) => setTimeZone(event.currentTarget.value === 'utc' ? 'utc' : 'local')}>
          <option value="local">local time</option>
          <option value="utc">UTC</option>
        </select>
        <select class="theme" aria-label="theme" value={theme()} onChange={(event) => applyTheme(event.currentTarget.value)}>
          <option value="auto">auto</option>
          <option value="light">light</option>
          <option value="dark">dark</option>
        </select>
      </header>
      <Tooltip />
      <main>
        <Show when={store.connection() !== 'refused'} fallback={<TokenPrompt store={store} onToken={reconnect} />}>
          {props.children}
        </Show>
      </main>
    </HubContext.Provider>
  );
}

function ConnectionPill(props: { store: HubStore }) {
  const label = () =>
    ({
      connecting: 'connecting…',
      live: 'live',
      stalled: `stalled since ${clock(new Date(props.store.lastHeardAt()).toISOString())}`,
      reconnecting: 'reconnecting…',
      resynced: 'live · resynced',
      refused: 'refused',
    })[props.store.connection()];
  return (
    <span class={`pill connection-${props.store.connection()}`} role="status" aria-live="polite" data-connection={props.store.connection()}>
      {label()}
    </span>
  );
}

function TokenPrompt(props: { store: HubStore; onToken: (token: string | undefined) => void }) {
  const [token, setToken] = createSignal('');
  const refusal = () => props.store.refusal();
  return (
    <section class="panel token" aria-labelledby="token-title">
      <h2 id="token-title">This hub needs a token</h2>
      <Switch>
        <Match when={refusal()?.code === 'forbidden'}>
          <p class="error">The token you gave may not read this hub ({refusal()?.message}). Use a monitor, client or admin token.</p>
        </Match>
        <Match when={savedToken()}>
          <p class="error">The hub did not accept the saved token: {refusal()?.message}</p>
        </Match>
        <Match when={true}>
          <p>The hub was started with tokens. Enter one with the monitor, client or admin role; it stays in this browser.</p>
        </Match>
      </Switch>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          props.onToken(token().trim() || undefined);
        }}
      >
        <label>
          token <input type="password" autocomplete="off" value={token()} onInput={(event) => setToken(event.currentTarget.value)} />
        </label>
        <button type="submit" class="primary">
          Connect
        </button>
      </form>
    </section>
  );
}
