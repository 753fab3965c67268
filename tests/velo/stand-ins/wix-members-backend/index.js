// Stand-in for 'wix-members-backend': the member named by VELO_TEST_MEMBER is logged in.
async function getMember() {
  const id = process.env.VELO_TEST_MEMBER ?? '';
  if (id === 'throw') {
    // What the backend call does today when nobody is logged in (Wix docs).
    throw new Error('Member not logged in');
  }
  if (id === '') {
    return undefined;
  }
  return { _id: id, loginEmail: `${id}@example.com`, status: 'APPROVED' };
}

export const currentMember = { getMember };
