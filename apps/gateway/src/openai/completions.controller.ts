import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Post,
  Req,
  Res,
  UseGuards,
  Param,
} from '@nestjs/common';
import { hasScope } from '@switchboard/auth';
import { APP_CONFIG, type AppConfig } from '@switchboard/config';
import { LlmService, type ServedModel } from '@switchboard/llm';
import type { Response } from 'express';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import { parseBody } from '../http/parse-body';
import type { GatewayRequest } from '../http/request.types';
import { ChatStreamRunner } from '../streaming/chat-stream.runner';
import type { PipelineEvent, RunSummary } from '@switchboard/chat';
import { fromCompletionsBody } from '../chat/request-mapping';
import { completionsBodySchema } from './completions-request.schema';
import { requestIdentity, setIdentityHeaders } from '../http/request-identity';
import { CHAT_COMPLETIONS_UNSUPPORTED, rejectUnsupported } from './unsupported-parameters';
import { OpenAiChunksEncoder, openAiFinish, openAiUsage } from './openai-chunks.encoder';
import { ApiDoc } from '../openapi/api-doc.decorator';
import {
  chatCompletionChunkSchema,
  chatCompletionSchema,
  modelListSchema,
  modelSchema,
} from '../openapi/response.schemas';
import { CurrentPrincipal } from '../http/principal.decorator';
import type { Principal } from '@switchboard/auth';

function toOpenAiModel(m: ServedModel, admin: boolean) {
  return {
    id: m.id,
    object: 'model',
    created: 0,
    owned_by: m.provider,
    provider: m.provider,
    context_window: m.contextWindow,
    max_output_tokens: m.maxOutputTokens,
    capabilities: m.capabilities,
    simulated: m.simulated,
    ...(admin ? { pricing: m.pricing } : {}),
  };
}

/** The OpenAI-compatible surface: every OpenAI client works unchanged. */
@Controller('v1')
@UseGuards(ScopesGuard)
export class CompletionsController {
  private readonly schema: ReturnType<typeof completionsBodySchema>;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly runner: ChatStreamRunner,
    private readonly llm: LlmService,
  ) {
    this.schema = completionsBodySchema(config.chat.maxMessages);
  }

  @Get('models')
  @ApiDoc({ summary: 'List the served models', tag: 'openai', response: modelListSchema })
  models(@CurrentPrincipal() principal: Principal) {
    const admin = hasScope(principal, 'admin');
    return { object: 'list', data: this.llm.models().map((m) => toOpenAiModel(m, admin)) };
  }

  @Get('models/:id')
  @ApiDoc({ summary: 'One served model', tag: 'openai', response: modelSchema })
  model(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return toOpenAiModel(this.llm.resolve(id), hasScope(principal, 'admin'));
  }

  @Post('chat/completions')
  @ApiDoc({
    summary: 'Chat Completions (streaming and non-streaming)',
    tag: 'openai',
    body: (c) => completionsBodySchema(c.chat.maxMessages),
    response: chatCompletionSchema,
    events: chatCompletionChunkSchema,
  })
  @HttpCode(200)
  @RequireScope('chat')
  completions(
    @Req() req: GatewayRequest,
    @CurrentPrincipal() principal: Principal,
    @Res() res: Response,
    @Body() body: unknown,
  ): void {
    this.runner.admit();
    rejectUnsupported(body, CHAT_COMPLETIONS_UNSUPPORTED);
    const parsed = parseBody(this.schema, body);
    const { messages, params } = fromCompletionsBody(parsed);
    const identity = requestIdentity(req);
    setIdentityHeaders(res, identity);
    const input = {
      ...identity,
      principal,
      modelId: parsed.model,
      messages,
      params,
      receivedAt: req.receivedAt,
    };
    const id = `chatcmpl-${identity.requestId}`;
    if (parsed.stream) {
      this.runner.streamSse(
        res,
        input,
        new OpenAiChunksEncoder(id, parsed.model, parsed.stream_options?.include_usage ?? false),
      );
      return;
    }
    this.runner.collect(res, input, (events, summary) =>
      completionObject(id, parsed.model, events, summary),
    );
  }
}

function completionObject(id: string, model: string, events: PipelineEvent[], summary: RunSummary) {
  let text = '';
  let finish = 'stop';
  const calls = new Map<
    number,
    { id: string; type: 'function'; function: { name: string; arguments: string } }
  >();
  for (const ev of events) {
    if (ev.type === 'text') text += ev.text;
    else if (ev.type === 'finish') finish = openAiFinish(ev.reason);
    else if (ev.type === 'tool_call') {
      const c = calls.get(ev.index) ?? {
        id: '',
        type: 'function' as const,
        function: { name: '', arguments: '' },
      };
      if (ev.id) c.id = ev.id;
      if (ev.name) c.function.name += ev.name;
      if (ev.argumentsDelta) c.function.arguments += ev.argumentsDelta;
      calls.set(ev.index, c);
    }
  }
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: null,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: calls.size && !text ? null : text,
          refusal: null,
          ...(calls.size
            ? { tool_calls: [...calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c) }
            : {}),
        },
        logprobs: null,
        finish_reason: finish,
      },
    ],
    usage: openAiUsage(summary.usage),
  };
}
