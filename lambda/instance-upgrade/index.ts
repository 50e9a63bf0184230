/**
 * The function of ImdsInstanceUpgrade (being written: issue 10).
 */
export async function handler(): Promise<void> {
  throw new Error('ImdsInstanceUpgrade: not built yet');
}
