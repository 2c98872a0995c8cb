import { HashRouter, Route } from '@solidjs/router';
import { render } from 'solid-js/web';
import { App } from './App.js';
import { Job } from './pages/Job.js';
import { Jobs } from './pages/Jobs.js';
import { Overview } from './pages/Overview.js';
import { Submit } from './pages/Submit.js';
import { System } from './pages/System.js';
import './styles.css';

render(
  () => (
    <HashRouter root={App}>
      <Route path="/" component={Overview} />
      <Route path="/jobs" component={Jobs} />
      <Route path="/jobs/:id" component={Job} />
      <Route path="/submit" component={Submit} />
      <Route path="/system" component={System} />
      <Route path="*" component={() => <p class="empty">No such page.</p>} />
    </HashRouter>
  ),
  document.getElementById('root') as HTMLElement,
);
