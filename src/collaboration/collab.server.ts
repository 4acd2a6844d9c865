import { Injectable } from '@nestjs/common';
import type { Namespace } from 'socket.io';

/** The `/collab` namespace once the gateway has started, for the providers that emit into it. */
@Injectable()
export class CollabServer {
  private current?: Namespace;

  get namespace(): Namespace {
    if (!this.current) throw new Error('the collaboration gateway has not started');
    return this.current;
  }

  get started(): boolean {
    return this.current !== undefined;
  }

  attach(namespace: Namespace): void {
    this.current = namespace;
  }
}
