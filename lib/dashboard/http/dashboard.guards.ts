import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { CsrfTokens } from '../../web/csrf-tokens.js';
import { DashboardAccessDeniedError } from './dashboard-access-denied.error.js';
import type { WebRequest } from '../../web/request.util.js';

/** The dashboard's guard when none is configured: denies every request. */
@Injectable()
export class DenyAllGuard implements CanActivate {
  canActivate(): boolean {
    throw new DashboardAccessDeniedError(
      'The ChronoForge dashboard denies every request until ChronoForgeDashboardModule.forRoot({ guard }) allows it.',
    );
  }
}

/** Rejects a POST whose CSRF token does not match its cookie. */
@Injectable()
export class CsrfGuard implements CanActivate {
  constructor(private readonly tokens: CsrfTokens) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    await this.tokens.verify(context.switchToHttp().getRequest<WebRequest>());
    return true;
  }
}
