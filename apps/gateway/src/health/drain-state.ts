import { Injectable } from '@nestjs/common';

/** Flipped once on SIGTERM; read by /ready and by every new chat request. */
@Injectable()
export class DrainState {
  #draining = false;
  get draining(): boolean {
    return this.#draining;
  }
  begin(): void {
    this.#draining = true;
  }
}
