/**
 * The page's one tooltip: shows the `data-tip` of whatever is hovered or focused, and follows it
 * while it changes (a badge's "since" moves every second).
 */
import { Show, createSignal, onCleanup, onMount } from 'solid-js';

export function Tooltip() {
  const [tip, setTip] = createSignal<{ text: string; x: number; y: number }>();
  let shown: HTMLElement | undefined;
  const watcher = new MutationObserver(() => shown && place(shown));
  const place = (element: HTMLElement) => {
    const box = element.getBoundingClientRect();
    setTip({ text: element.dataset.tip ?? '', x: box.left + window.scrollX, y: box.bottom + window.scrollY + 6 });
  };
  const show = (target: EventTarget | null) => {
    const element = target instanceof Element ? target.closest<HTMLElement>('[data-tip]') : null;
    if (element === shown) return;
    watcher.disconnect();
    shown = element ?? undefined;
    if (!element) return setTip(undefined);
    watcher.observe(element, { attributes: true, attributeFilter: ['data-tip'] });
    place(element);
  };
  const over = (event: Event) => show(event.target);
  const hide = () => show(null);
  onMount(() => {
    document.addEventListener('pointerover', over);
    document.addEventListener('focusin', over);
    document.addEventListener('focusout', hide);
    document.addEventListener('scroll', hide, true);
  });
  onCleanup(() => {
    watcher.disconnect();
    document.removeEventListener('pointerover', over);
    document.removeEventListener('focusin', over);
    document.removeEventListener('focusout', hide);
    document.removeEventListener('scroll', hide, true);
  });
  return (
    <Show when={tip()}>
      {(current) => (
        <div class="tooltip" role="tooltip" style={{ left: `${current().x}px`, top: `${current().y}px` }}>
          {current().text}
        </div>
      )}
    </Show>
  );
}
