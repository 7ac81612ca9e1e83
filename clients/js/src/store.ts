// Where an unfinished upload's id is kept between runs, so a page reload or an app restart resumes
// it instead of starting over. The interface is the Web Storage / AsyncStorage one, so
// `window.localStorage` and React Native's `AsyncStorage` are stores as they are.

/** `getItem`/`setItem`/`removeItem`, sync or async: `localStorage` and `AsyncStorage` both fit. */
export interface StateStore {
  getItem(key: string): string | null | undefined | Promise<string | null | undefined>
  setItem(key: string, value: string): void | Promise<void>
  removeItem(key: string): void | Promise<void>
}

/** What is kept for an unfinished upload; `GET /status` and `GET /parts` tell the rest. */
export interface SavedUpload {
  uploadId: string
  key: string
  fileSize: number
  chunkSize: number
  totalParts: number
  endpoint: string
  savedAt: string
}

export const STORE_PREFIX = 'multipart-upload:'

/** A store in memory: resumes after a pause, not after a restart. */
export function memoryStore(): StateStore {
  const items = new Map<string, string>()
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  }
}

/** `localStorage` where it exists and works (browsers), else a memory store (Node, React Native). */
export function defaultStore(): StateStore {
  try {
    const ls = (globalThis as { localStorage?: StateStore }).localStorage
    if (ls) {
      const probe = `${STORE_PREFIX}probe`
      ls.setItem(probe, '1')
      ls.removeItem(probe)
      return ls
    }
  } catch {
    // Blocked storage (private mode, sandboxed frames): fall through.
  }
  return memoryStore()
}

/** The AsyncStorage of React Native (`@react-native-async-storage/async-storage`) as a store. */
export function asyncStorageStore(asyncStorage: StateStore): StateStore {
  return {
    getItem: (key) => asyncStorage.getItem(key),
    setItem: (key, value) => asyncStorage.setItem(key, value),
    removeItem: (key) => asyncStorage.removeItem(key),
  }
}

/** Identifies "the same file to the same API": name, type, size and modification time. */
export function fingerprintOf(
  file: { size: number; name?: string; type?: string; lastModified?: number },
  name: string,
  endpoint: string,
): string {
  return [endpoint, name, file.type ?? '', file.size, file.lastModified ?? ''].join('|')
}

export async function loadSaved(store: StateStore | null, fingerprint: string): Promise<SavedUpload | null> {
  if (!store) return null
  try {
    const raw = await store.getItem(STORE_PREFIX + fingerprint)
    if (!raw) return null
    const saved = JSON.parse(raw) as Partial<SavedUpload>
    return typeof saved.uploadId === 'string' ? (saved as SavedUpload) : null
  } catch {
    return null
  }
}

export async function save(store: StateStore | null, fingerprint: string, saved: SavedUpload): Promise<void> {
  if (store) await store.setItem(STORE_PREFIX + fingerprint, JSON.stringify(saved))
}

export async function forget(store: StateStore | null, fingerprint: string): Promise<void> {
  try {
    if (store) await store.removeItem(STORE_PREFIX + fingerprint)
  } catch {
    // A store that cannot remove only costs a GET /status on the next run.
  }
}
