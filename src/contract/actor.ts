/** Who made a change, as collaborators are told. */
export interface Actor {
  userId: string | null;
  displayName: string;
}
