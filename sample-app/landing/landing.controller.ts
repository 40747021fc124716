import { Controller, Get, Header, Headers } from '@nestjs/common';
import { landingPage } from './landing.page.js';

/** A host header this page may print: a host name or address with an optional port. */
const HOST = /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$/;

/** `GET /`: the landing page (what the app does, the three commands to try, the dashboard link). */
@Controller()
export class LandingController {
  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  page(@Headers('host') host?: string): string {
    return landingPage(`http://${host && HOST.test(host) ? host : 'localhost:3000'}`);
  }
}
