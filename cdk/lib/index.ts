export * from './planton-iam-user';
export * from './provider';
export * from './nag';
