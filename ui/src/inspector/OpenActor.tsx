/** The header's box that opens any actor by its id (`/#/actors/:id`). */
import { useNavigate } from '@solidjs/router';
import { createSignal } from 'solid-js';
import { actorPath } from './links.js';

export function OpenActor() {
  const navigate = useNavigate();
  const [id, setId] = createSignal('');
  return (
    <form
      class="open-actor"
      role="search"
      onSubmit={(event) => {
        event.preventDefault();
        const wanted = id().trim();
        if (wanted) navigate(actorPath(wanted));
      }}
    >
      <input type="search" placeholder="actor id" aria-label="open an actor by id" value={id()} onInput={(event) => setId(event.currentTarget.value)} />
    </form>
  );
}
