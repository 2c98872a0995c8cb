/** The page's one tooltip: shows the `data-tip` of whatever is hovered or focused. */
import { Show, createSignal, onCleanup, onMount } from 'solid-js';

export function Tooltip() {
  const [tip, setTip] = createSignal<{ text: string; x: number; y: number }>();
  const show = (target: EventTarget | null) => {
    const element = target instanceof Element ? target.closest<HTMLElement>('[data-tip]') : null;
    if (!element) return setTip(undefined);
    const box = element.getBoundingClientRect();
    setTip({ text: element.dataset.tip ?? '', x: box.left + window.scrollX, y: box.bottom + window.scrollY + 6 });
  };
  const over = (event: Event) => show(event.target);
  const hide = () => setTip(undefined);
  onMount(() => {
    document.addEventListener('pointerover', over);
    document.addEventListener('focusin', over);
    document.addEventListener('focusout', hide);
    document.addEventListener('scroll', hide, true);
  });
  onCleanup(() => {
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
