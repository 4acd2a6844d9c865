export interface RecordedResponse {
  method: string;
  route: string;
  status: number;
  contentType: string;
  body?: string;
}
export function contractDir(run: { artifactsDir: string }): string;
export function checkResponses(document: object, records: RecordedResponse[]): Promise<string[]>;
export function checkRunContract(run: { artifactsDir: string }): Promise<{ checked: number }>;
export function withFormats<T>(ajv: T): T;
