import {
  Body,
  Controller,
  Delete,
  Get,
  Head,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import { FilesService } from '@switchboard/datasources';
import type { Response } from 'express';
import { parseInput, principalOf } from '../admin/request-input';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import { parseBody } from '../http/parse-body';
import type { GatewayRequest } from '../http/request.types';
import { sendFileContent, sendFileHeaders } from './file-download';
import { fileView } from './file.view';
import {
  fileIdSchema,
  listFilesQuerySchema,
  sharingBodySchema,
  tagsBodySchema,
} from './files.schemas';
import { receiveUpload } from './multipart-upload';
import { ApiDoc } from '../openapi/api-doc.decorator';
import { fileListSchema, fileSchema, tagListSchema } from '../openapi/response.schemas';

/**
 * The caller's documents. A file is private to its owner unless shared with
 * accounts the owner belongs to; one the caller cannot see is 404 whether or
 * not it exists. Only the owner tags, shares or deletes.
 */
@Controller('files')
@UseGuards(ScopesGuard)
@RequireScope('files')
export class FilesController {
  constructor(private readonly files: FilesService) {}

  /** multipart/form-data with one `file` field, streamed to the blob store; ingestion is queued */
  @Post()
  @ApiDoc({
    summary: 'Upload a document (multipart/form-data, one file field); ingestion is queued',
    tag: 'files',
    bodyContentType: 'multipart/form-data',
    response: fileSchema,
  })
  @HttpCode(201)
  async upload(@Req() req: GatewayRequest, @Res({ passthrough: true }) res: Response) {
    const principal = principalOf(req);
    const file = await receiveUpload(req, res, {
      maxBytes: this.files.maxUploadBytes,
      store: (stream, part) => this.files.upload(principal, stream, part),
      discard: (f) => this.files.delete(principal, f.id),
    });
    return fileView(file);
  }

  @Get()
  @ApiDoc({
    summary: 'The files the caller can read, newest first',
    tag: 'files',
    query: listFilesQuerySchema,
    response: fileListSchema,
  })
  async list(@Req() req: GatewayRequest, @Query() query: unknown) {
    const q = parseInput(listFilesQuerySchema, query);
    // one more than asked tells whether there is a next page
    const rows = await this.files.list(principalOf(req), { ...q, limit: q.limit + 1 });
    const data = rows.slice(0, q.limit).map(fileView);
    return {
      data,
      limit: q.limit,
      offset: q.offset,
      nextOffset: rows.length > q.limit ? q.offset + q.limit : null,
    };
  }

  @Get(':id')
  @ApiDoc({ summary: 'One file and its ingestion status', tag: 'files', response: fileSchema })
  async get(@Req() req: GatewayRequest, @Param() params: unknown) {
    const { id } = parseInput(fileIdSchema, params);
    return fileView(await this.files.get(principalOf(req), id));
  }

  // declared before GET: Express would otherwise answer HEAD with the GET route,
  // reading the whole blob only for Node to discard it
  /** the headers of `GET :id/content`, same status codes, no body */
  @Head(':id/content')
  @ApiDoc({ summary: 'Headers of the file content', tag: 'files' })
  async contentHeaders(
    @Req() req: GatewayRequest,
    @Param() params: unknown,
    @Res() res: Response,
  ): Promise<void> {
    const { id } = parseInput(fileIdSchema, params);
    const { file, body } = await this.files.openContent(principalOf(req), id);
    sendFileHeaders(res, file, body);
  }

  /** the file's bytes as an attachment, to anyone who may see the file */
  @Get(':id/content')
  @ApiDoc({
    summary: 'The file content, as an attachment',
    tag: 'files',
    responseContentType: 'application/octet-stream',
  })
  async content(
    @Req() req: GatewayRequest,
    @Param() params: unknown,
    @Res() res: Response,
  ): Promise<void> {
    const { id } = parseInput(fileIdSchema, params);
    const { file, body } = await this.files.openContent(principalOf(req), id);
    await sendFileContent(res, file, body);
  }

  /** removes the blob, the extracted text, chunks and vectors */
  @Delete(':id')
  @ApiDoc({ summary: 'Delete a file', tag: 'files' })
  @HttpCode(204)
  async remove(@Req() req: GatewayRequest, @Param() params: unknown): Promise<void> {
    const { id } = parseInput(fileIdSchema, params);
    await this.files.delete(principalOf(req), id);
  }

  /** replaces the file's tags */
  @Put(':id/tags')
  @ApiDoc({
    summary: "Replace a file's tags",
    tag: 'files',
    body: tagsBodySchema,
    response: fileSchema,
  })
  async setTags(@Req() req: GatewayRequest, @Param() params: unknown, @Body() body: unknown) {
    const { id } = parseInput(fileIdSchema, params);
    const { tags } = parseBody(tagsBodySchema, body);
    return fileView(await this.files.setTags(principalOf(req), id, tags));
  }

  /** replaces the accounts the file is shared with (`[]` = private) */
  @Put(':id/sharing')
  @ApiDoc({
    summary: 'Share a file with accounts the owner belongs to',
    tag: 'files',
    body: sharingBodySchema,
    response: fileSchema,
  })
  async share(@Req() req: GatewayRequest, @Param() params: unknown, @Body() body: unknown) {
    const { id } = parseInput(fileIdSchema, params);
    const { accountIds } = parseBody(sharingBodySchema, body);
    return fileView(await this.files.share(principalOf(req), id, accountIds));
  }
}

/** Tags on the files the caller can see, with how many files carry each. */
@Controller('tags')
@UseGuards(ScopesGuard)
@RequireScope('files')
export class TagsController {
  constructor(private readonly files: FilesService) {}

  @Get()
  @ApiDoc({
    summary: 'Tags of the files the caller can read',
    tag: 'files',
    response: tagListSchema,
  })
  async list(@Req() req: GatewayRequest) {
    return { data: await this.files.listTags(principalOf(req)) };
  }
}
