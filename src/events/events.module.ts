import { Global, Module } from '@nestjs/common';
import { EventBus } from './event-bus.js';

/** The in-process bus every feature publishes its domain events on (the one typed map is `app-events.ts`). */
@Global()
@Module({ providers: [EventBus], exports: [EventBus] })
export class EventsModule {}
