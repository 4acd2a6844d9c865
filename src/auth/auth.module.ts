import { createPrivateKey, createPublicKey, createSecretKey } from 'node:crypto';
import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { CacheModule } from '../cache/cache.module.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { AuthController } from './auth.controller.js';
import { AuthGuard } from './auth.guard.js';
import { AuthService } from './auth.service.js';
import { LoginAttempts } from './login-attempts.js';
import { PasswordHasher } from './password-hasher.js';
import { TokenService } from './token.service.js';
import { UserProfileCache } from './user-profile.cache.js';
import { UsersRepository } from './users.repository.js';

@Module({
  imports: [
    CacheModule,
    RateLimitModule,
    // Keys are parsed into KeyObjects once: given strings, jsonwebtoken re-parses them on
    // every call (a failed PEM parse first, for a shared secret), a sixth of a request's CPU.
    JwtModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        config.JWT_PRIVATE_KEY && config.JWT_PUBLIC_KEY
          ? {
              privateKey: createPrivateKey(config.JWT_PRIVATE_KEY),
              publicKey: createPublicKey(config.JWT_PUBLIC_KEY),
              signOptions: { algorithm: 'RS256', expiresIn: config.JWT_EXPIRES_IN_SECONDS },
              verifyOptions: { algorithms: ['RS256'] },
            }
          : {
              secret: createSecretKey(Buffer.from(config.jwtSecret)),
              signOptions: { algorithm: 'HS256', expiresIn: config.JWT_EXPIRES_IN_SECONDS },
              verifyOptions: { algorithms: ['HS256'] },
            },
    }),
  ],
  controllers: [AuthController],
  providers: [
    AuthService,
    AuthGuard,
    LoginAttempts,
    PasswordHasher,
    TokenService,
    UserProfileCache,
    UsersRepository,
    { provide: APP_GUARD, useExisting: AuthGuard },
  ],
  exports: [AuthService, AuthGuard],
})
export class AuthModule {}
