import { HashRouter, Route } from '@solidjs/router';
import { lazy } from 'solid-js';
import { render } from 'solid-js/web';
import { App } from './App.js';
import { Job } from './pages/Job.js';
import { Jobs } from './pages/Jobs.js';
import { Overview } from './pages/Overview.js';
import { Submit } from './pages/Submit.js';
import { System } from './pages/System.js';
import './styles.css';

// The inspector (and elkjs, which lays its charts out) loads only when one of its pages opens.
const ActorPage = lazy(() => import('./inspector/ActorPage.js').then((module) => ({ default: module.ActorPage })));
const FleetPage = lazy(() => import('./inspector/FleetPage.js').then((module) => ({ default: module.FleetPage })));

render(
  () => (
    <HashRouter root={App}>
      <Route path="/" component={Overview} />
      <Route path="/jobs" component={Jobs} />
      <Route path="/jobs/:id" component={Job} />
      <Route path="/submit" component={Submit} />
      <Route path="/system" component={System} />
      <Route path="/actors/:id" component={ActorPage} />
      <Route path="/machines/:kind?" component={FleetPage} />
      <Route path="*" component={() => <p class="empty">No such page.</p>} />
    </HashRouter>
  ),
  document.getElementById('root') as HTMLElement,
);
