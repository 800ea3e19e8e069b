export * from './planton-iam-user';
