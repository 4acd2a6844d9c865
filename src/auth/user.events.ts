/** Published once a user is deleted (their owned sessions were deleted with them, each announced as session.deleted). */
export const USER_DELETED = 'user.deleted';

export interface UserDeletedEvent {
  userId: string;
  at: string;
}
