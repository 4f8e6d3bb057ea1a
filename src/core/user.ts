import { userInfo } from 'node:os';

/** The name of the user running Lifeboat, or its uid when the uid has no passwd entry (containers). */
export function currentUsername(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? '');
  }
}
