import { createContext, useContext } from 'solid-js';
import type { HubStore } from './store.js';

export const HubContext = createContext<HubStore>();

export function useHub(): HubStore {
  const hub = useContext(HubContext);
  if (!hub) throw new Error('useHub outside <HubContext.Provider>');
  return hub;
}
