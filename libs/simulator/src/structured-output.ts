import type { SimOutputFormat, SimTool, SimToolChoice } from './reply.planner';
import { isRecord } from './wire.util';

/**
 * What each protocol's request says about tools and structured output, in the
 * simulator's neutral terms, so every dialect honours `tool_choice` and JSON
 * schemas the same way. Malformed parts are ignored (the planner then answers text).
 */

const named = (name: unknown): SimToolChoice | undefined =>
  typeof name === 'string' && name !== '' ? { name } : undefined;

/** Chat Completions: `tools[].function`, `tool_choice`, `response_format`. */
export function openAiChatShape(body: Record<string, unknown>) {
  const tools: SimTool[] = [];
  if (Array.isArray(body.tools))
    for (const t of body.tools)
      if (isRecord(t) && isRecord(t.function) && typeof t.function.name === 'string')
        tools.push({ name: t.function.name, parameters: t.function.parameters });
  const tc = body.tool_choice;
  const toolChoice =
    tc === 'auto' || tc === 'none' || tc === 'required'
      ? tc
      : isRecord(tc) && isRecord(tc.function)
        ? named(tc.function.name)
        : undefined;
  const rf = body.response_format;
  let format: SimOutputFormat | undefined;
  if (isRecord(rf) && rf.type === 'json_object') format = { type: 'json_object' };
  else if (isRecord(rf) && rf.type === 'json_schema' && isRecord(rf.json_schema))
    format = { type: 'json_schema', schema: rf.json_schema.schema ?? {} };
  return { tools, toolChoice, format };
}

/** Responses API: function `tools[]`, `tool_choice`, `text.format`. */
export function responsesShape(body: Record<string, unknown>) {
  const tools: SimTool[] = [];
  if (Array.isArray(body.tools))
    for (const t of body.tools)
      if (isRecord(t) && t.type === 'function' && typeof t.name === 'string')
        tools.push({ name: t.name, parameters: t.parameters });
  const tc = body.tool_choice;
  const toolChoice =
    tc === 'auto' || tc === 'none' || tc === 'required'
      ? tc
      : isRecord(tc) && tc.type === 'function'
        ? named(tc.name)
        : undefined;
  const f = isRecord(body.text) ? body.text.format : undefined;
  let format: SimOutputFormat | undefined;
  if (isRecord(f) && f.type === 'json_object') format = { type: 'json_object' };
  else if (isRecord(f) && f.type === 'json_schema')
    format = { type: 'json_schema', schema: f.schema ?? {} };
  return { tools, toolChoice, format };
}

/** Bedrock Converse: `toolConfig` and `outputConfig.textFormat` (schema as a JSON string). */
export function converseShape(body: Record<string, unknown>) {
  const tools: SimTool[] = [];
  const config = isRecord(body.toolConfig) ? body.toolConfig : {};
  if (Array.isArray(config.tools))
    for (const t of config.tools)
      if (isRecord(t) && isRecord(t.toolSpec) && typeof t.toolSpec.name === 'string')
        tools.push({
          name: t.toolSpec.name,
          parameters: isRecord(t.toolSpec.inputSchema) ? t.toolSpec.inputSchema.json : undefined,
        });
  const tc = config.toolChoice;
  const toolChoice: SimToolChoice | undefined = !isRecord(tc)
    ? undefined
    : isRecord(tc.any)
      ? 'required'
      : isRecord(tc.tool)
        ? named(tc.tool.name)
        : 'auto';
  let format: SimOutputFormat | undefined;
  const tf = isRecord(body.outputConfig) ? body.outputConfig.textFormat : undefined;
  const js = isRecord(tf) && isRecord(tf.structure) ? tf.structure.jsonSchema : undefined;
  if (isRecord(js) && typeof js.schema === 'string') {
    try {
      format = { type: 'json_schema', schema: JSON.parse(js.schema) as unknown };
    } catch {
      // an unparsable schema: answer text
    }
  }
  return { tools, toolChoice, format };
}

/** Gemini's OpenAPI-style `Schema` (`type: "OBJECT"`) as JSON Schema. */
function lowerTypes(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(lowerTypes);
  if (!isRecord(schema)) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema))
    out[k] = k === 'type' && typeof v === 'string' ? v.toLowerCase() : lowerTypes(v);
  return out;
}

/** Gemini: `functionDeclarations`, `toolConfig.functionCallingConfig`, JSON response config. */
export function geminiShape(body: Record<string, unknown>) {
  const tools: SimTool[] = [];
  if (Array.isArray(body.tools))
    for (const t of body.tools)
      if (isRecord(t) && Array.isArray(t.functionDeclarations))
        for (const d of t.functionDeclarations)
          if (isRecord(d) && typeof d.name === 'string')
            tools.push({
              name: d.name,
              parameters: d.parametersJsonSchema ?? lowerTypes(d.parameters),
            });
  const fc =
    isRecord(body.toolConfig) && isRecord(body.toolConfig.functionCallingConfig)
      ? body.toolConfig.functionCallingConfig
      : undefined;
  let toolChoice: SimToolChoice | undefined;
  if (fc?.mode === 'ANY')
    toolChoice = Array.isArray(fc.allowedFunctionNames)
      ? (named(fc.allowedFunctionNames[0]) ?? 'required')
      : 'required';
  else if (fc?.mode === 'NONE') toolChoice = 'none';
  else if (fc?.mode === 'AUTO') toolChoice = 'auto';
  const g = isRecord(body.generationConfig) ? body.generationConfig : {};
  let format: SimOutputFormat | undefined;
  if (g.responseMimeType === 'application/json') {
    const schema = g.responseJsonSchema ?? lowerTypes(g.responseSchema);
    format = schema === undefined ? { type: 'json_object' } : { type: 'json_schema', schema };
  }
  return { tools, toolChoice, format };
}
