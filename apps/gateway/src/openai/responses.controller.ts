import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import { AppError } from '@switchboard/common';
import { APP_CONFIG, type AppConfig } from '@switchboard/config';
import { StoredResponses, type ResponseItem } from '@switchboard/responses';
import type { Response } from 'express';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import { classify } from '../http/all-exceptions.filter';
import { parseBody } from '../http/parse-body';
import type { GatewayRequest } from '../http/request.types';
import { sendError } from '../http/send-error';
import { ChatStreamRunner } from '../streaming/chat-stream.runner';
import {
  requestIdentity,
  setIdentityHeaders,
  type RequestIdentity,
} from '../http/request-identity';
import {
  ResponsesEventsEncoder,
  responsesId,
  type ResponseObject,
} from './responses-events.encoder';
import {
  itemsToMessages,
  normaliseInput,
  referencedIds,
  responseBase,
  responsesParams,
} from './responses-mapping';
import {
  inputItemsQuerySchema,
  responseIdSchema,
  responsesBodySchema,
  type ResponsesBody,
} from './responses-request.schema';
import {
  RESPONSES_UNSUPPORTED,
  rejectHostedResponsesTools,
  rejectUnsupported,
} from './unsupported-parameters';
import { ApiDoc } from '../openapi/api-doc.decorator';
import {
  inputItemListSchema,
  responseDeletedSchema,
  responseEventSchema,
  responseObjectSchema,
} from '../openapi/response.schemas';
import { CurrentPrincipal } from '../http/principal.decorator';
import { ZodInput } from '../http/zod.pipe';
import type { z } from 'zod';
import type { Principal } from '@switchboard/auth';

/**
 * The OpenAI Responses API (`/v1/responses`) on the same pipeline as chat:
 * admission, budget hold, retries and fallbacks, ledger, cancellation. Stored
 * responses are private to the user who created them; another user's id is 404.
 */
@Controller('v1/responses')
@UseGuards(ScopesGuard)
@RequireScope('chat')
export class ResponsesController {
  private readonly schema: ReturnType<typeof responsesBodySchema>;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly runner: ChatStreamRunner,
    private readonly store: StoredResponses,
  ) {
    this.schema = responsesBodySchema(config.chat.maxMessages);
  }

  @Post()
  @ApiDoc({
    summary: 'Create a model response (Responses API; streaming and non-streaming)',
    tag: 'openai',
    body: (c) => responsesBodySchema(c.chat.maxMessages),
    response: responseObjectSchema,
    events: responseEventSchema,
  })
  @HttpCode(200)
  create(
    @Req() req: GatewayRequest,
    @CurrentPrincipal() principal: Principal,
    @Res() res: Response,
    @Body() body: unknown,
  ): void {
    this.runner.admit();
    rejectUnsupported(body, RESPONSES_UNSUPPORTED);
    rejectHostedResponsesTools(body);
    const parsed = parseBody(this.schema, body);
    const identity = requestIdentity(req);
    setIdentityHeaders(res, identity);
    this.#start(req, principal, res, parsed, identity).catch((e: unknown) =>
      sendError(res, classify(e), identity.correlationId),
    );
  }

  async #start(
    req: GatewayRequest,
    principal: Principal,
    res: Response,
    body: ResponsesBody,
    identity: RequestIdentity,
  ): Promise<void> {
    const owner = principal.userId;
    let history: ResponseItem[] = [];
    if (body.previous_response_id) {
      const found = await this.store.conversation(body.previous_response_id, owner);
      if (!found)
        throw new AppError(
          'not_found',
          `Previous response with id "${body.previous_response_id}" not found.`,
          { param: 'previous_response_id' },
        );
      history = found;
    }
    const refs = referencedIds(body.input);
    const inputItems = normaliseInput(body.input, await this.store.findItems(owner, refs));
    const messages = itemsToMessages([...history, ...inputItems]);
    if (body.instructions) messages.unshift({ role: 'system', content: body.instructions });
    if (res.destroyed) return;

    const createdAt = this.store.now();
    const id = responsesId('resp');
    const store = body.store ?? true;
    // stored before the terminal event leaves: a client may chain to it at once, on any replica
    const onFinal = (final: ResponseObject) => {
      if (!store) return;
      return this.store.save({
        id,
        ownerUserId: owner,
        previousResponseId: body.previous_response_id ?? null,
        createdAt,
        body: final,
        inputItems,
        outputItems: final.output,
      });
    };
    const encoder = new ResponsesEventsEncoder(responseBase(body, id, createdAt), onFinal);
    const input = {
      ...identity,
      principal,
      modelId: body.model,
      messages,
      params: responsesParams(body),
      receivedAt: req.receivedAt,
    };
    if (body.stream) {
      this.runner.streamSse(res, input, encoder);
      return;
    }
    this.runner.collect(res, input, async (events, summary) => {
      for (const ev of events) encoder.encode(ev);
      encoder.encode({ type: 'end', summary });
      await encoder.settle();
      return encoder.final;
    });
  }

  @Get(':id')
  @ApiDoc({
    summary: 'A stored response of the caller',
    tag: 'openai',
    response: responseObjectSchema,
  })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(responseIdSchema)) { id }: z.infer<typeof responseIdSchema>,
  ): Promise<Record<string, unknown>> {
    const found = await this.store.get(id, principal.userId);
    if (!found) throw notFound(id);
    return found;
  }

  @Delete(':id')
  @ApiDoc({
    summary: 'Delete a stored response of the caller',
    tag: 'openai',
    response: responseDeletedSchema,
  })
  async delete(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(responseIdSchema)) { id }: z.infer<typeof responseIdSchema>,
  ) {
    if (!(await this.store.delete(id, principal.userId))) throw notFound(id);
    return { id, object: 'response', deleted: true };
  }

  @Get(':id/input_items')
  @ApiDoc({
    summary: 'The input items of a stored response',
    tag: 'openai',
    query: inputItemsQuerySchema,
    response: inputItemListSchema,
  })
  async inputItems(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(responseIdSchema)) { id }: z.infer<typeof responseIdSchema>,
    @Query(new ZodInput(inputItemsQuerySchema)) q: z.infer<typeof inputItemsQuerySchema>,
  ) {
    const page = await this.store.inputItems(id, principal.userId, q);
    if (!page) throw notFound(id);
    return {
      object: 'list',
      data: page.data,
      first_id: page.data[0]?.id ?? null,
      last_id: page.data[page.data.length - 1]?.id ?? null,
      has_more: page.hasMore,
    };
  }
}

function notFound(id: string): AppError {
  return new AppError('not_found', `Response with id "${id}" not found.`, { param: 'id' });
}
