import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ChronoForgeModuleOptions } from './options/chrono-forge-options.interface.js';

export const {
  ConfigurableModuleClass: ChronoForgeConfigurableModule,
  MODULE_OPTIONS_TOKEN: CHRONO_FORGE_MODULE_OPTIONS,
  OPTIONS_TYPE: CHRONO_FORGE_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: CHRONO_FORGE_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ChronoForgeModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: true }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
