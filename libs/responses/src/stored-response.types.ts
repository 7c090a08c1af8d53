/** An item of a response's input or output, as the Responses API shows it (always with an `id`). */
export type ResponseItem = Record<string, unknown> & { id: string; type: string };

export interface StoredResponse {
  id: string;
  ownerUserId: string;
  previousResponseId: string | null;
  createdAt: Date;
  /** the response object exactly as it was answered */
  body: Record<string, unknown>;
  inputItems: ResponseItem[];
  outputItems: ResponseItem[];
}

export interface ItemPage {
  data: ResponseItem[];
  hasMore: boolean;
}

export interface ItemPageQuery {
  limit: number;
  order: 'asc' | 'desc';
  /** an item id: the page starts after it */
  after?: string;
}
